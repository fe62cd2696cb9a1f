# Image for the extender (`tessera serve`) and the node agent (`tessera agent`), as referenced by
# the Helm chart manifests/chart/tessera (values image.repository/tag: tessera:0.1.0).
# Build: docker build -t tessera:0.1.0 .
# Not built in this project's CI (its machines have no container engine); the Python package it
# installs is what the test suite exercises.
# The SBOM of exactly what the image installs (the pinned closure in constraints.txt), made by the
# same script the test suite checks (tests/security/test_supply_chain.py) and shipped in the image.
FROM python:3.11-slim AS sbom
WORKDIR /src
COPY pyproject.toml constraints.txt ./
COPY scripts/sbom.sh ./scripts/sbom.sh
RUN python -m pip install --no-cache-dir -c constraints.txt cyclonedx-bom \
    && bash scripts/sbom.sh /sbom.cdx.json

# The package as a wheel: its kernels (packing/jit.py) are compiled here, by numba with a C
# compiler; neither is needed at run time, so neither is in the image.
FROM python:3.11-slim AS wheel
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml setup.py constraints.txt README.md ./
COPY packing ./packing
COPY scheduler ./scheduler
COPY simulator ./simulator
COPY cli ./cli
RUN PIP_CONSTRAINT=constraints.txt python -m pip wheel --no-cache-dir --no-deps -w /wheels .

FROM python:3.11-slim

# NVML comes from the host driver at run time: the NVIDIA container toolkit mounts libnvidia-ml
# into the agent's pod when these are set (the chart's node agent DaemonSet).
ENV NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=utility \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

WORKDIR /opt/tessera
COPY constraints.txt ./
COPY --from=wheel /wheels /wheels
COPY --from=sbom /sbom.cdx.json ./sbom.cdx.json
RUN python -m pip install --no-cache-dir -c constraints.txt /wheels/*.whl \
    && rm -rf /wheels \
    && useradd --system --uid 65532 tessera

USER 65532
ENTRYPOINT ["tessera"]
CMD ["serve", "--in-cluster"]
