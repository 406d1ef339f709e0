FROM python:3.11-slim
WORKDIR /srv
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY events ./events
COPY projections ./projections
COPY migrations ./migrations
RUN pip install --no-cache-dir .
ENV CEASEFIRE_DATABASE_URL=sqlite+aiosqlite:////data/ceasefire.db
EXPOSE 8000
# `serve` runs the migrations before it listens.
CMD ["ceasefire", "serve", "--host", "0.0.0.0", "--port", "8000"]
