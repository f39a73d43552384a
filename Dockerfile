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
# numba keeps dedup's compiled fingerprint loops in a folder it can write; compiled here once, so
# that a container starts without compiling (the services run as nobody).
ENV NUMBA_CACHE_DIR=/var/cache/newswire-numba
RUN .venv/bin/python -c "import services.dedup.fingerprint" && chmod -R a+rwX "$NUMBA_CACHE_DIR"

ENV PATH="/app/.venv/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    NEWSWIRE_LOG_FORMAT=json

USER nobody
CMD ["newswire", "--help"]
