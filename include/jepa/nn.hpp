// Neural-network modules: Module, Linear, LayerNorm, MLP, Attention, Block, PatchEmbed, and the
// fixed sin-cos position tables.
#pragma once
#include <jepa/jepa.hpp>
#include <jepa/nn/module.hpp>
#include <jepa/nn/layers.hpp>
#include <jepa/nn/transformer.hpp>
#include <jepa/nn/patch_embed.hpp>
#include <jepa/nn/pos_embed.hpp>
