FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml ./
COPY . .
RUN pip install --no-cache-dir . gunicorn==23.0.0
EXPOSE 8000
CMD ["gunicorn", "leadscoring.wsgi:application", "--bind", "0.0.0.0:8000"]
