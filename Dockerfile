# medassist: the HTTP API on the local engine, in two stages on Debian 12.
#   docker build -t medassist .
#   docker run -p 8000:8000 -e API_KEY=change-me -v ~/.cache/huggingface:/home/medassist/.cache/huggingface medassist
#   docker run -p 8000:8000 medassist serve --model assets/demo/stories260K.gguf   # offline demo
# The build stage runs exactly the scripts CI runs (install-deps, build); the image carries no
# LibTorch (train/ is not built) and no compiler.

FROM debian:12 AS build
WORKDIR /src
COPY . .
RUN ./scripts/install-deps.sh && ./scripts/build.sh release \
 && ./scripts/check-runtime-deps.sh build/release/src/apps/medassist

FROM debian:12-slim
COPY scripts/install-deps.sh /opt/medassist/scripts/install-deps.sh
RUN /opt/medassist/scripts/install-deps.sh --runtime && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 medassist
COPY --from=build /src/build/release/src/apps/medassist /usr/local/bin/medassist
COPY --from=build /src/assets /opt/medassist/assets
USER medassist
WORKDIR /opt/medassist
# PORT, HOST, API_KEY, MODEL, HF_ENDPOINT_URL, ... are read from the environment (docs/configuration.md).
ENV PORT=8000 HOST=0.0.0.0
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=120s --retries=3 \
  CMD curl -fsS "http://127.0.0.1:${PORT}/health" || exit 1
# SIGTERM drains requests in flight (MEDASSIST_SHUTDOWN_TIMEOUT, default 30 s) and exits 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["medassist"]
CMD ["serve"]
