# One image for the four services; it installs exactly what `make install` installs.
FROM python:3.11-slim

RUN apt-get update \
    && apt-get install -y --no-install-recommends make \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md Makefile ./
COPY shared ./shared
COPY services ./services
COPY samples ./samples
RUN make install

ENV PATH="/app/.venv/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    NEWSWIRE_LOG_FORMAT=json

USER nobody
CMD ["newswire", "--help"]
