// Every field of sparse3d.gpu_target that a pass reads is checked where it is read: a wrong kind, a wrong
// length or an out-of-range value is an error at the module naming the field, never an internal error.
// RUN: rt3d-opt %s --split-input-file --verify-diagnostics --sparse3d-gpu-tile > /dev/null
// RUN: rt3d-opt %s --split-input-file --verify-diagnostics --gpu-spirv-abi > /dev/null
// RUN: rt3d-opt %s --split-input-file --verify-diagnostics --kgs-to-spirv > /dev/null
// RUN: rt3d-opt %s --split-input-file --verify-diagnostics --parallel-loops-to-gpu-grid > /dev/null
// RUN: not rt3d-opt %s --split-input-file --gpu-spirv-abi 2>&1 | filecheck %s --check-prefix=EXIT
// EXIT-NOT: internal error
// EXIT: gpu-target-attributes.mlir:13:1: error: sparse3d.gpu_target: name must be a string, got unit
// EXIT-NOT: internal error

// expected-error @+1 {{sparse3d.gpu_target: name must be a string, got unit}}
module attributes {sparse3d.gpu_target = {compute_units = 16 : i64, max_invocations = 512 : i64, max_storage_buffer_bytes = 134217728 : i64, max_workgroup_count = array<i64: 65535, 65535, 65535>, max_workgroup_size = array<i64: 512, 512, 512>, name = unit, shared_memory_bytes = 32768 : i64, subgroup_size = 16 : i64}} {
  func.func @f() {
    return
  }
}

// -----

// expected-error @+1 {{sparse3d.gpu_target: name must be a string, got 7 : i64}}
module attributes {sparse3d.gpu_target = {compute_units = 16 : i64, max_invocations = 512 : i64, max_storage_buffer_bytes = 134217728 : i64, max_workgroup_count = array<i64: 65535, 65535, 65535>, max_workgroup_size = array<i64: 512, 512, 512>, name = 7 : i64, shared_memory_bytes = 32768 : i64, subgroup_size = 16 : i64}} {
  func.func @f() {
    return
  }
}

// -----

// expected-error @+1 {{sparse3d.gpu_target: subgroup_size must be an integer such as 8 : i64, got "16"}}
module attributes {sparse3d.gpu_target = {compute_units = 16 : i64, max_invocations = 512 : i64, max_storage_buffer_bytes = 134217728 : i64, max_workgroup_count = array<i64: 65535, 65535, 65535>, max_workgroup_size = array<i64: 512, 512, 512>, name = "mali-valhall", shared_memory_bytes = 32768 : i64, subgroup_size = "16"}} {
  func.func @f() {
    return
  }
}

// -----

// expected-error @+1 {{sparse3d.gpu_target: max_workgroup_size must be an array of 3 integers such as array<i64: 1, 1, 1>, got array<i64: 512, 512>}}
module attributes {sparse3d.gpu_target = {compute_units = 16 : i64, max_invocations = 512 : i64, max_storage_buffer_bytes = 134217728 : i64, max_workgroup_count = array<i64: 65535, 65535, 65535>, max_workgroup_size = array<i64: 512, 512>, name = "mali-valhall", shared_memory_bytes = 32768 : i64, subgroup_size = 16 : i64}} {
  func.func @f() {
    return
  }
}

// -----

// expected-error @+1 {{sparse3d.gpu_target: max_workgroup_count must be an array of 3 integers such as array<i64: 1, 1, 1>, got array<i64: 1, 1>}}
module attributes {sparse3d.gpu_target = {compute_units = 16 : i64, max_invocations = 512 : i64, max_storage_buffer_bytes = 134217728 : i64, max_workgroup_count = array<i64: 1, 1>, max_workgroup_size = array<i64: 512, 512, 512>, name = "mali-valhall", shared_memory_bytes = 32768 : i64, subgroup_size = 16 : i64}} {
  func.func @f() {
    return
  }
}

// -----

// expected-error @+1 {{GPU target 'mali-valhall': max_workgroup_count must be from 1 to 2147483647, got 9223372036854775807}}
module attributes {sparse3d.gpu_target = {compute_units = 16 : i64, max_invocations = 512 : i64, max_storage_buffer_bytes = 134217728 : i64, max_workgroup_count = array<i64: 65535, 65535, 9223372036854775807>, max_workgroup_size = array<i64: 512, 512, 512>, name = "mali-valhall", shared_memory_bytes = 32768 : i64, subgroup_size = 16 : i64}} {
  func.func @f() {
    return
  }
}

// -----

// expected-error @+1 {{GPU target 'mali-valhall': shared_memory_bytes must be from 1 to 2147483647, got 9223372036854775807}}
module attributes {sparse3d.gpu_target = {compute_units = 16 : i64, max_invocations = 512 : i64, max_storage_buffer_bytes = 134217728 : i64, max_workgroup_count = array<i64: 65535, 65535, 65535>, max_workgroup_size = array<i64: 512, 512, 512>, name = "mali-valhall", shared_memory_bytes = 9223372036854775807 : i64, subgroup_size = 16 : i64}} {
  func.func @f() {
    return
  }
}

// -----

// expected-error @+1 {{sparse3d.gpu_target: fp16 must be true or false, got 1 : i64}}
module attributes {sparse3d.gpu_target = {compute_units = 16 : i64, fp16 = 1 : i64, max_invocations = 512 : i64, max_storage_buffer_bytes = 134217728 : i64, max_workgroup_count = array<i64: 65535, 65535, 65535>, max_workgroup_size = array<i64: 512, 512, 512>, name = "mali-valhall", shared_memory_bytes = 32768 : i64, subgroup_size = 16 : i64}} {
  func.func @f() {
    return
  }
}

// -----

// expected-error @+1 {{sparse3d.gpu_target: max_workgroup_size must be an array of 3 integers such as array<i64: 1, 1, 1>, got 512 : i64}}
module attributes {sparse3d.gpu_target = {compute_units = 16 : i64, max_invocations = 512 : i64, max_storage_buffer_bytes = 134217728 : i64, max_workgroup_count = array<i64: 65535, 65535, 65535>, max_workgroup_size = 512 : i64, name = "mali-valhall", shared_memory_bytes = 32768 : i64, subgroup_size = 16 : i64}} {
  func.func @f() {
    return
  }
}

// -----

// expected-error @+1 {{GPU target 'mali-valhall': max_storage_buffer_bytes must be from 1 to 4294967295, got 8589934592}}
module attributes {sparse3d.gpu_target = {compute_units = 16 : i64, max_invocations = 512 : i64, max_storage_buffer_bytes = 8589934592 : i64, max_workgroup_count = array<i64: 65535, 65535, 65535>, max_workgroup_size = array<i64: 512, 512, 512>, name = "mali-valhall", shared_memory_bytes = 32768 : i64, subgroup_size = 16 : i64}} {
  func.func @f() {
    return
  }
}

// -----

// expected-error @+1 {{GPU target 'mali-valhall': compute_units must be from 1 to 2147483647, got 0}}
module attributes {sparse3d.gpu_target = {compute_units = 0 : i64, max_invocations = 512 : i64, max_storage_buffer_bytes = 134217728 : i64, max_workgroup_count = array<i64: 65535, 65535, 65535>, max_workgroup_size = array<i64: 512, 512, 512>, name = "mali-valhall", shared_memory_bytes = 32768 : i64, subgroup_size = 16 : i64}} {
  func.func @f() {
    return
  }
}

// -----

// expected-error @+1 {{sparse3d.gpu_target: max_workgroup_size cannot be array<si32: 512, 512, 512>}}
module attributes {sparse3d.gpu_target = {compute_units = 16 : i64, max_invocations = 512 : i64, max_storage_buffer_bytes = 134217728 : i64, max_workgroup_count = array<i64: 65535, 65535, 65535>, max_workgroup_size = array<si32: 512, 512, 512>, name = "mali-valhall", shared_memory_bytes = 32768 : i64, subgroup_size = 16 : i64}} {
  func.func @f() {
    return
  }
}

// -----

// expected-error @+1 {{sparse3d.gpu_target: fp16_math cannot be array<ui8: 8, 4>}}
module attributes {sparse3d.gpu_target = {compute_units = 16 : i64, fp16 = true, fp16_math = array<ui8: 8, 4>, max_invocations = 512 : i64, max_storage_buffer_bytes = 134217728 : i64, max_workgroup_count = array<i64: 65535, 65535, 65535>, max_workgroup_size = array<i64: 512, 512, 512>, name = "mali-valhall", shared_memory_bytes = 32768 : i64, subgroup_size = 16 : i64}} {
  func.func @f() {
    return
  }
}
