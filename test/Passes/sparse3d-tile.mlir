// RUN: rt3d-opt %s --split-input-file --sparse3d-tile 2>&1 | filecheck %s
// RUN: rt3d-opt %s --split-input-file --sparse3d-tile=target=aarch64-neon 2>&1 | filecheck %s --check-prefix=NEON
// RUN: not rt3d-opt %s --sparse3d-tile=target=pentium 2>&1 | filecheck %s --check-prefix=BADTARGET

// BADTARGET: rt3d-opt: error: pass 'sparse3d-tile': unknown target 'pentium'; known: host, host-avx512, host-avx2, aarch64-neon

// The schedule comes from the module's target (16 registers of 8 lanes: 4 filters x 3 rows
// of 1 vector); the chunk of channel groups keeps
// its input slab within 2x L1d. target=... replaces the target.
// CHECK-LABEL: func.func @from_module_target
// CHECK:       "sparse3d.kgs_conv3d"
// CHECK-SAME:  sparse3d.schedule = {channel_groups = 2 : i64, filters = 4 : i64, rows = 3 : i64, threads = 2 : i64, vector_lanes = 8 : i64, w_vectors = 1 : i64}
// NEON:        module attributes {sparse3d.target = {cores = 1 : i64, l1_bytes = 65536 : i64, name = "aarch64-neon", vector_lanes = 4 : i64, vector_registers = 32 : i64}}
// NEON-LABEL:  func.func @from_module_target
// NEON:        "sparse3d.kgs_conv3d"
// NEON-SAME:   sparse3d.schedule = {channel_groups = 2 : i64, filters = 8 : i64, rows = 3 : i64, threads = 1 : i64, vector_lanes = 4 : i64, w_vectors = 1 : i64}
module attributes {sparse3d.target = {cores = 2 : i64, l1_bytes = 32768 : i64, name = "host-avx2", vector_lanes = 8 : i64, vector_registers = 16 : i64}} {
  func.func @from_module_target(%in: tensor<1x8x4x6x28xf32>, %init: tensor<1x16x4x6x28xf32>) -> tensor<1x16x4x6x28xf32> {
    %values = arith.constant dense<1.0> : tensor<256xf32>
    %offsets = arith.constant dense<[0, 2, 4, 6, 8]> : tensor<5xi32>
    %positions = arith.constant dense<[0, 13, 1, 26, 4, 5, 6, 7]> : tensor<8xi32>
    %0 = "sparse3d.kgs_conv3d"(%in, %values, %offsets, %positions, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 3, 3, 3>, strides = array<i64: 1, 1, 1>, padding = array<i64: 1, 1, 1, 1, 1, 1>, dilations = array<i64: 1, 1, 1>} : (tensor<1x8x4x6x28xf32>, tensor<256xf32>, tensor<5xi32>, tensor<8xi32>, tensor<1x16x4x6x28xf32>) -> tensor<1x16x4x6x28xf32>
    return %0 : tensor<1x16x4x6x28xf32>
  }
}

// -----

// A schedule already on the op is kept (hand-written or from an earlier run).
// CHECK-LABEL: func.func @keeps_given_schedule
// CHECK:       "sparse3d.kgs_conv3d"
// CHECK-SAME:  sparse3d.schedule = {channel_groups = 1 : i64, filters = 2 : i64, rows = 1 : i64, threads = 1 : i64, vector_lanes = 4 : i64, w_vectors = 2 : i64}
module attributes {sparse3d.target = {cores = 2 : i64, l1_bytes = 32768 : i64, name = "host-avx2", vector_lanes = 8 : i64, vector_registers = 16 : i64}} {
  func.func @keeps_given_schedule(%in: tensor<1x4x1x1x9xf32>, %init: tensor<1x8x1x1x9xf32>) -> tensor<1x8x1x1x9xf32> {
    %values = arith.constant dense<1.0> : tensor<32xf32>
    %offsets = arith.constant dense<[0, 1]> : tensor<2xi64>
    %positions = arith.constant dense<0> : tensor<1xi64>
    %0 = "sparse3d.kgs_conv3d"(%in, %values, %offsets, %positions, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 1, 1, 1>, strides = array<i64: 1, 1, 1>, padding = array<i64: 0, 0, 0, 0, 0, 0>, dilations = array<i64: 1, 1, 1>, sparse3d.schedule = {channel_groups = 1 : i64, filters = 2 : i64, rows = 1 : i64, threads = 1 : i64, vector_lanes = 4 : i64, w_vectors = 2 : i64}} : (tensor<1x4x1x1x9xf32>, tensor<32xf32>, tensor<2xi64>, tensor<1xi64>, tensor<1x8x1x1x9xf32>) -> tensor<1x8x1x1x9xf32>
    return %0 : tensor<1x8x1x1x9xf32>
  }
}
