#!/usr/bin/env bash
# Build a grading image, for Gradescope (setup.sh) and PrairieLearn (the Dockerfile) alike. Run it as
# root from a folder holding requirements-grading.txt and helpers/, with MNIST_ROOT naming the data
# folder: it installs the grading dependencies into the image's own Python, puts MNIST in MNIST_ROOT so
# that grading never needs the network, and makes the data readable by root only.
#
#   install.sh [--sandbox-user] [--torch-index URL] [--mnist FOLDER]
#   install.sh --packages-only [--torch-index URL]
#
#   --sandbox-user      also create the sandbox's user (grader-sandbox)
#   --packages-only     Python and the grading packages, nothing else (needs only requirements-grading.txt
#                       beside it): an image layer of its own, which then changes only with that file
#   --torch-index URL   where PyTorch's wheels come from; default: PyTorch's CPU-only index, a fraction
#                       of the CUDA build's size and memory. An empty URL takes them from the indexes pip
#                       is configured with (PIP_INDEX_URL, PIP_EXTRA_INDEX_URL, PIP_FIND_LINKS), like
#                       every other package: a university mirror, or a wheel folder for air-gapped builds.
#   --mnist FOLDER      copy MNIST's original .gz files from FOLDER (the files themselves, or torchvision's
#                       MNIST/raw layout below it) instead of downloading them
#
# TORCH_INDEX and MNIST_FROM in the environment set the last two (Gradescope runs setup.sh without
# arguments); empty PIP_* variables are ignored, so a Dockerfile may pass them on unset.
set -euo pipefail
fail() { echo "install.sh: $*" >&2; exit 2; }

sandbox_user=false
packages_only=false
torch_index="${TORCH_INDEX-https://download.pytorch.org/whl/cpu}"
mnist_from="${MNIST_FROM:-}"
while [ $# -gt 0 ]; do
    case "$1" in
        --sandbox-user) sandbox_user=true; shift ;;
        --packages-only) packages_only=true; shift ;;
        --torch-index) [ $# -ge 2 ] || fail "--torch-index needs a URL (empty for pip's own indexes)"
                       torch_index="$2"; shift 2 ;;
        --mnist) [ $# -ge 2 ] && [ -n "$2" ] || fail "--mnist needs a folder"
                 mnist_from="$2"; shift 2 ;;
        *) fail "unknown option '$1' (options: --sandbox-user, --packages-only, --torch-index URL, --mnist FOLDER)" ;;
    esac
done
if ! $packages_only; then : "${MNIST_ROOT:?MNIST_ROOT must name the folder for MNIST}"; fi
for variable in PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_FIND_LINKS PIP_CERT PIP_TRUSTED_HOST; do
    if [ -z "${!variable:-}" ]; then unset "$variable"; fi
done

# MNIST first: a wrong folder should fail before gigabytes are installed.
if [ -n "$mnist_from" ] && ! $packages_only; then
    raw="$mnist_from"
    if [ -d "$mnist_from/MNIST/raw" ]; then raw="$mnist_from/MNIST/raw"; fi
    files=(train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz)
    for file in "${files[@]}"; do
        [ -f "$raw/$file" ] || fail "--mnist $mnist_from: $file is not there (nor in its MNIST/raw)"
    done
    mkdir -p "$MNIST_ROOT/MNIST/raw"
    for file in "${files[@]}"; do cp "$raw/$file" "$MNIST_ROOT/MNIST/raw/"; done
fi

if ! python3 -m pip --version >/dev/null 2>&1; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 python3-pip ca-certificates
fi
if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
    fail "Python 3.10 or newer is needed; choose a newer base image"
fi

# The image's own Python is the grader's: no virtual environment to activate when grading.
export PIP_BREAK_SYSTEM_PACKAGES=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
mapfile -t torch_pins < <(grep -E '^(torch|torchvision)==' requirements-grading.txt)
if [ -n "$torch_index" ]; then
    python3 -m pip install --index-url "$torch_index" "${torch_pins[@]}"
fi
python3 -m pip install -r requirements-grading.txt
if $packages_only; then
    echo "install.sh: the grading packages are installed"
    exit 0
fi

# torchvision checks the .gz files it finds and unpacks them; it downloads only what is missing.
python3 -c "from helpers.data import load_mnist; load_mnist(train=True); load_mnist(train=False)"
chmod -R go-rwx "$MNIST_ROOT"

# Containers refuse the namespaces bubblewrap needs, so the grader falls back to a separate
# unprivileged user (the first sandbox uid, named by the grader itself), which must not read the data.
uid="$(python3 -c 'from autograder.sandbox.isolation import SANDBOX_UIDS; print(SANDBOX_UIDS[0])')"
if $sandbox_user && ! id -u grader-sandbox >/dev/null 2>&1; then
    useradd --system --uid "$uid" --no-create-home --shell /usr/sbin/nologin grader-sandbox \
        || echo "install.sh: no grader-sandbox user created; the sandbox runs as uid $uid all the same"
fi
echo "install.sh: grading dependencies and MNIST ($MNIST_ROOT) are ready"
