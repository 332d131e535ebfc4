// RUN: rt3d-opt %s --verify-diagnostics --split-input-file --sparse3d-gpu-tile > /dev/null

// A schedule on the op that exceeds the target's limits is an error (MLIR does not check them).
module attributes {sparse3d.gpu_target = {compute_units = 16 : i64, max_invocations = 512 : i64, max_storage_buffer_bytes = 134217728 : i64, max_workgroup_count = array<i64: 65535, 65535, 65535>, max_workgroup_size = array<i64: 512, 512, 512>, name = "mali-valhall", shared_memory_bytes = 32768 : i64, subgroup_size = 16 : i64}} {
  func.func @too_large(%in: tensor<1x6x4x6x28xf32>, %init: tensor<1x10x4x6x28xf32>) -> tensor<1x10x4x6x28xf32> {
    %values = arith.constant dense<1.0> : tensor<112xf32>
    %offsets = arith.constant dense<[0, 2, 4, 5, 7]> : tensor<5xi64>
    %positions = arith.constant dense<[0, 13, 1, 26, 4, 5, 6]> : tensor<7xi64>
    // expected-error @+1 {{GPU schedule: workgroup of 1024 threads exceeds mali-valhall's max_invocations 512}}
    %0 = "sparse3d.kgs_conv3d"(%in, %values, %offsets, %positions, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 3, 3, 3>, strides = array<i64: 1, 1, 1>, padding = array<i64: 1, 1, 1, 1, 1, 1>, dilations = array<i64: 1, 1, 1>, sparse3d.gpu_schedule = {outputs_per_thread = 1 : i64, workgroup_size = 1024 : i64}} : (tensor<1x6x4x6x28xf32>, tensor<112xf32>, tensor<5xi64>, tensor<7xi64>, tensor<1x10x4x6x28xf32>) -> tensor<1x10x4x6x28xf32>
    return %0 : tensor<1x10x4x6x28xf32>
  }
}

// -----

// Without a GPU target the pass cannot choose.
// expected-error @+1 {{the module has no sparse3d.gpu_target attribute: set a GPU target (mali-valhall, adreno-6xx, desktop)}}
module {
  func.func @no_target(%in: tensor<1x6x4x6x28xf32>) -> tensor<1x6x4x6x28xf32> {
    return %in : tensor<1x6x4x6x28xf32>
  }
}

// -----

module attributes {sparse3d.gpu_target = {compute_units = 16 : i64, max_invocations = 512 : i64, max_storage_buffer_bytes = 134217728 : i64, max_workgroup_count = array<i64: 65535, 65535, 65535>, max_workgroup_size = array<i64: 512, 512, 512>, name = "mali-valhall", shared_memory_bytes = 32768 : i64, subgroup_size = 16 : i64}} {
  func.func @signed_schedule(%in: tensor<1x4x1x1x9xf32>, %init: tensor<1x8x1x1x9xf32>) -> tensor<1x8x1x1x9xf32> {
    %values = arith.constant dense<1.0> : tensor<32xf32>
    %offsets = arith.constant dense<[0, 1]> : tensor<2xi64>
    %positions = arith.constant dense<0> : tensor<1xi64>
    // expected-error @+1 {{sparse3d.gpu_schedule must be a dictionary attribute, got array<si32: 1, 32>}}
    %0 = "sparse3d.kgs_conv3d"(%in, %values, %offsets, %positions, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 1, 1, 1>, strides = array<i64: 1, 1, 1>, padding = array<i64: 0, 0, 0, 0, 0, 0>, dilations = array<i64: 1, 1, 1>, sparse3d.gpu_schedule = array<si32: 1, 32>} : (tensor<1x4x1x1x9xf32>, tensor<32xf32>, tensor<2xi64>, tensor<1xi64>, tensor<1x8x1x1x9xf32>) -> tensor<1x8x1x1x9xf32>
    return %0 : tensor<1x8x1x1x9xf32>
  }
}

// -----

// The implicit module's errors are reported at its first operation (not at a line 0 or the split marker).
// expected-error @+1 {{the module has no sparse3d.gpu_target attribute: set a GPU target (mali-valhall, adreno-6xx, desktop)}}
func.func @implicit_module(%in: tensor<1x6x4x6x28xf32>) -> tensor<1x6x4x6x28xf32> {
  return %in : tensor<1x6x4x6x28xf32>
}
