// RUN: rt3d-opt %s --split-input-file --sparse3d-gpu-tile 2>&1 | filecheck %s
// RUN: rt3d-opt %s --split-input-file --sparse3d-gpu-tile=target=adreno-6xx 2>&1 | filecheck %s --check-prefix=ADRENO
// RUN: not rt3d-opt %s --sparse3d-gpu-tile=target=geforce 2>&1 | filecheck %s --check-prefix=BADTARGET

// BADTARGET: rt3d-opt: error: pass 'sparse3d-gpu-tile': unknown GPU target 'geforce'; known: mali-valhall, adreno-6xx, desktop

// The schedule comes from the module's GPU target: 672 outputs, 2 filter blocks; Mali's 16-wide
// subgroups allow small workgroups, Adreno's 64-wide ones do not. target=... replaces the target.
// CHECK-LABEL: func.func @from_module_target
// CHECK:       "sparse3d.kgs_conv3d"
// CHECK-SAME:  sparse3d.gpu_schedule = {outputs_per_thread = 1 : i64, workgroup_size = 32 : i64}
// ADRENO:      module attributes {sparse3d.gpu_target = {{{.*}}name = "adreno-6xx"{{.*}}subgroup_size = 64 : i64}}
// ADRENO-LABEL: func.func @from_module_target
// ADRENO:      sparse3d.gpu_schedule = {outputs_per_thread = 1 : i64, workgroup_size = 64 : i64}
module attributes {sparse3d.gpu_target = {compute_units = 16 : i64, max_invocations = 512 : i64, max_storage_buffer_bytes = 134217728 : i64, max_workgroup_count = array<i64: 65535, 65535, 65535>, max_workgroup_size = array<i64: 512, 512, 512>, name = "mali-valhall", shared_memory_bytes = 32768 : i64, subgroup_size = 16 : i64}} {
  func.func @from_module_target(%in: tensor<1x6x4x6x28xf32>, %init: tensor<1x10x4x6x28xf32>) -> tensor<1x10x4x6x28xf32> {
    %values = arith.constant dense<1.0> : tensor<112xf32>
    %offsets = arith.constant dense<[0, 2, 4, 5, 7]> : tensor<5xi64>
    %positions = arith.constant dense<[0, 13, 1, 26, 4, 5, 6]> : tensor<7xi64>
    %0 = "sparse3d.kgs_conv3d"(%in, %values, %offsets, %positions, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 3, 3, 3>, strides = array<i64: 1, 1, 1>, padding = array<i64: 1, 1, 1, 1, 1, 1>, dilations = array<i64: 1, 1, 1>} : (tensor<1x6x4x6x28xf32>, tensor<112xf32>, tensor<5xi64>, tensor<7xi64>, tensor<1x10x4x6x28xf32>) -> tensor<1x10x4x6x28xf32>
    return %0 : tensor<1x10x4x6x28xf32>
  }
}

// -----

// A schedule already on the op is checked against the target's limits and kept.
// CHECK-LABEL: func.func @given_schedule
// CHECK:       sparse3d.gpu_schedule = {outputs_per_thread = 2 : i64, workgroup_size = 128 : i64}
module attributes {sparse3d.gpu_target = {compute_units = 16 : i64, max_invocations = 512 : i64, max_storage_buffer_bytes = 134217728 : i64, max_workgroup_count = array<i64: 65535, 65535, 65535>, max_workgroup_size = array<i64: 512, 512, 512>, name = "mali-valhall", shared_memory_bytes = 32768 : i64, subgroup_size = 16 : i64}} {
  func.func @given_schedule(%in: tensor<1x6x4x6x28xf32>, %init: tensor<1x10x4x6x28xf32>) -> tensor<1x10x4x6x28xf32> {
    %values = arith.constant dense<1.0> : tensor<112xf32>
    %offsets = arith.constant dense<[0, 2, 4, 5, 7]> : tensor<5xi64>
    %positions = arith.constant dense<[0, 13, 1, 26, 4, 5, 6]> : tensor<7xi64>
    %0 = "sparse3d.kgs_conv3d"(%in, %values, %offsets, %positions, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 3, 3, 3>, strides = array<i64: 1, 1, 1>, padding = array<i64: 1, 1, 1, 1, 1, 1>, dilations = array<i64: 1, 1, 1>, sparse3d.gpu_schedule = {outputs_per_thread = 2 : i64, workgroup_size = 128 : i64}} : (tensor<1x6x4x6x28xf32>, tensor<112xf32>, tensor<5xi64>, tensor<7xi64>, tensor<1x10x4x6x28xf32>) -> tensor<1x10x4x6x28xf32>
    return %0 : tensor<1x10x4x6x28xf32>
  }
}
