#!/usr/bin/env bash
# Gradescope runs this once, when it builds the autograder image: the shared image build
# (autograder/platform/install.sh) with MNIST in source/data. The sandbox's user is created only in
# Gradescope's own /autograder tree: a trial run elsewhere leaves the machine's users alone. For a build
# without the internet, TORCH_INDEX and MNIST_FROM in the environment reach install.sh (it says how).
set -euo pipefail
SOURCE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$SOURCE"
user=()
if [ "$SOURCE" = /autograder/source ]; then user=(--sandbox-user); fi
MNIST_ROOT="$SOURCE/data" bash autograder/platform/install.sh "${user[@]}"
