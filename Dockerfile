# Production image for the web and worker services of docker-compose.yml.
FROM python:3.11-slim
# Production settings unless told otherwise: DEBUG off, SECRET_KEY and ALLOWED_HOSTS required.
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 MVSIM_ENV=production
WORKDIR /app
COPY requirements.txt requirements-nodeps.txt ./
RUN pip install --no-cache-dir -r requirements.txt && \
    pip install --no-cache-dir --no-deps -r requirements-nodeps.txt
COPY . .
RUN MVSIM_ENV=development DATABASE_URL=postgres://build@localhost/build \
    REDIS_URL=redis://localhost:6379/0 SECRET_KEY=build DEBUG=0 \
    python manage.py collectstatic --noinput -v 0
EXPOSE 8000
CMD ["gunicorn", "mvsite.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--timeout", "120"]
