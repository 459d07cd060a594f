# gunicorn settings of the web service (compose.yaml: gunicorn --config docker/gunicorn.conf.py).
# Command-line options override these.
bind = "0.0.0.0:8000"
workers = 3
accesslog = "-"
# The access and error logs with the secrets of invitation, password-reset and hand-over
# links redacted from request lines and referrers (kpiplatform/log_redaction.py).
logger_class = "kpiplatform.log_redaction.GunicornLogger"
