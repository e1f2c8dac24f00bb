FROM python:3.12-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY hotline hotline
COPY dispatch dispatch
COPY adapters adapters
COPY sql sql
RUN pip install --no-cache-dir -e .
ENV HOTLINE_HOST=0.0.0.0 HOTLINE_PORT=8080
EXPOSE 8080
CMD ["hotline", "serve", "--seed-demo"]
