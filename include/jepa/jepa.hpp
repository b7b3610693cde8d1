// The core of jepa-cpp: tensors, autodiff, ops and the CPU backend.
// Neural-network modules, optimizers, data, io and models have their own headers.
#pragma once
#include <jepa/core/tensor.hpp>
#include <jepa/core/random.hpp>
#include <jepa/autograd/grad_mode.hpp>
#include <jepa/autograd/node.hpp>
#include <jepa/ops/copy.hpp>
#include <jepa/ops/view.hpp>
#include <jepa/ops/binary.hpp>
#include <jepa/ops/unary.hpp>
#include <jepa/ops/gelu.hpp>
#include <jepa/ops/reduce.hpp>
#include <jepa/ops/creation.hpp>
#include <jepa/ops/softmax.hpp>
#include <jepa/ops/layernorm.hpp>
#include <jepa/ops/matmul.hpp>
#include <jepa/ops/index.hpp>
#include <jepa/ops/join.hpp>
#include <jepa/ops/loss.hpp>
#include <jepa/ops/attention.hpp>
#include <jepa/ops/rope.hpp>
#include <jepa/autograd/engine.hpp>
#include <jepa/autograd/gradcheck.hpp>
#include <jepa/core/print.hpp>
