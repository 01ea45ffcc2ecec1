#!/usr/bin/env bash
# Gradescope runs this once, when it builds the autograder image: install what grading needs, with
# PyTorch's CPU-only wheels (a fraction of the CUDA build's size and memory), and download MNIST into
# the image so that grading never needs the network. Versions come from requirements-grading.txt.
set -euo pipefail
SOURCE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$SOURCE"

if ! python3 -m pip --version >/dev/null 2>&1; then
    apt-get update
    apt-get install -y --no-install-recommends python3 python3-pip
fi
if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
    echo "setup.sh: Python 3.10 or newer is needed; choose a newer Ubuntu base image" >&2
    exit 1
fi

# The image's own Python is the grader's: no virtual environment to activate in run_autograder.
export PIP_BREAK_SYSTEM_PACKAGES=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
mapfile -t torch_pins < <(grep -E '^(torch|torchvision)==' requirements-grading.txt)
python3 -m pip install --index-url https://download.pytorch.org/whl/cpu "${torch_pins[@]}"
python3 -m pip install -r requirements-grading.txt

export MNIST_ROOT="$SOURCE/data"
python3 -c "from helpers.data import load_mnist; load_mnist(train=True); load_mnist(train=False)"

# The sandbox. Gradescope's containers refuse the namespaces bubblewrap needs, so the grader falls back
# to a separate unprivileged user (uid 64000, the first sandbox uid); it must not read the data.
# (Only in Gradescope's own /autograder tree: a trial run elsewhere leaves the machine's users alone.)
if [ "$SOURCE" = /autograder/source ] && [ "$(id -u)" -eq 0 ] && ! id -u grader-sandbox >/dev/null 2>&1; then
    useradd --system --uid 64000 --no-create-home --shell /usr/sbin/nologin grader-sandbox \
        || echo "setup.sh: no grader-sandbox user created; the sandbox runs as uid 64000 all the same"
fi
chmod -R go-rwx "$MNIST_ROOT"
echo "setup.sh: grading dependencies and MNIST ($MNIST_ROOT) are ready"
