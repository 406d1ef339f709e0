FROM python:3.11-slim
# An unprivileged user owns the only writable place, /data (the SQLite default's directory).
# Created and chowned before VOLUME: changes after the declaration would be discarded.
RUN useradd --system --uid 10001 --home-dir /srv --shell /usr/sbin/nologin ceasefire \
    && mkdir /data && chown ceasefire:ceasefire /data
WORKDIR /srv
COPY pyproject.toml constraints.txt README.md alembic.ini ./
COPY app ./app
COPY events ./events
COPY projections ./projections
COPY migrations ./migrations
# The locked versions (constraints.txt, as `make` installs them), the build backend's too; pip
# first, since --build-constraint is newer than the image's own pip.
RUN pip install --no-cache-dir --upgrade -c constraints.txt pip \
    && pip install --no-cache-dir -c constraints.txt --build-constraint constraints.txt .
ENV CEASEFIRE_DATABASE_URL=sqlite+aiosqlite:////data/ceasefire.db
VOLUME /data
USER ceasefire
EXPOSE 8000
# /readyz: the database answers and its schema is at head. The slim image has no curl.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4)"]
# `serve` runs the migrations before it listens (compose runs them apart, as the owner role).
CMD ["ceasefire", "serve", "--host", "0.0.0.0", "--port", "8000"]
