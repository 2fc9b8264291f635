#!/usr/bin/env bash
# Downloads the real model weights, for use on your own machine (the build and
# test machines have no internet access and use the tiny random models instead).
#
#   scripts/download-models.sh [DIR]      (default DIR: models)
#
# It fetches the VQGAN trained on ImageNet (f16, 16384 codes; about 1 GB) and
# OpenAI's CLIP ViT-B/32 (about 340 MB), the set that runvqgan uses by default.
# Point runvqgan.toml at them, e.g. with DIR=/srv/vqgan/models:
#
#   clip_dir = "models"
#   [models.default]
#   vqgan_config = "models/vqgan_imagenet_f16_16384.yaml"
#   vqgan_checkpoint = "models/vqgan_imagenet_f16_16384.ckpt"
#   clip_model = "ViT-B/32"
#
# Existing files are kept; an interrupted download resumes.
set -euo pipefail
dir=${1:-models}
mkdir -p "$dir"

fetch() {
    local url=$1 out=$2
    if [[ -s $out ]]; then
        echo "have $out"
        return
    fi
    echo "fetching $out"
    curl --fail --location --continue-at - --output "$out.part" "$url"
    mv "$out.part" "$out"
}

fetch 'https://heibox.uni-heidelberg.de/d/a7530b09fed84f80a887/files/?p=%2Fconfigs%2Fmodel.yaml&dl=1' \
    "$dir/vqgan_imagenet_f16_16384.yaml"
fetch 'https://heibox.uni-heidelberg.de/d/a7530b09fed84f80a887/files/?p=%2Fckpts%2Flast.ckpt&dl=1' \
    "$dir/vqgan_imagenet_f16_16384.ckpt"
fetch 'https://openaipublic.azureedge.net/clip/models/40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af/ViT-B-32.pt' \
    "$dir/ViT-B-32.pt"
echo "models are in $dir"
