#!/usr/bin/env bash
# Build a grading image, for Gradescope (setup.sh) and PrairieLearn (the Dockerfile) alike. Run it as
# root from a folder holding requirements-grading.txt and helpers/, with MNIST_ROOT naming the data
# folder: it installs the grading dependencies into the image's own Python with PyTorch's CPU-only
# wheels (a fraction of the CUDA build's size and memory), downloads MNIST so that grading never needs
# the network, and makes the data readable by root only. --sandbox-user also creates the sandbox's user.
set -euo pipefail
: "${MNIST_ROOT:?MNIST_ROOT must name the folder for MNIST}"

if ! python3 -m pip --version >/dev/null 2>&1; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 python3-pip ca-certificates
fi
if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
    echo "install.sh: Python 3.10 or newer is needed; choose a newer Ubuntu base image" >&2
    exit 1
fi

# The image's own Python is the grader's: no virtual environment to activate when grading.
export PIP_BREAK_SYSTEM_PACKAGES=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
mapfile -t torch_pins < <(grep -E '^(torch|torchvision)==' requirements-grading.txt)
python3 -m pip install --index-url https://download.pytorch.org/whl/cpu "${torch_pins[@]}"
python3 -m pip install -r requirements-grading.txt

python3 -c "from helpers.data import load_mnist; load_mnist(train=True); load_mnist(train=False)"
chmod -R go-rwx "$MNIST_ROOT"

# Containers refuse the namespaces bubblewrap needs, so the grader falls back to a separate
# unprivileged user (the first sandbox uid, named by the grader itself), which must not read the data.
uid="$(python3 -c 'from autograder.sandbox.isolation import SANDBOX_UIDS; print(SANDBOX_UIDS[0])')"
if [ "${1:-}" = --sandbox-user ] && ! id -u grader-sandbox >/dev/null 2>&1; then
    useradd --system --uid "$uid" --no-create-home --shell /usr/sbin/nologin grader-sandbox \
        || echo "install.sh: no grader-sandbox user created; the sandbox runs as uid $uid all the same"
fi
echo "install.sh: grading dependencies and MNIST ($MNIST_ROOT) are ready"
