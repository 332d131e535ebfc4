// Every field of sparse3d.target that a pass reads is checked where it is read: a wrong kind, a wrong
// length or an out-of-range value is an error at the module naming the field, never an internal error.
// RUN: rt3d-opt %s --split-input-file --verify-diagnostics --sparse3d-tile > /dev/null
// RUN: rt3d-opt %s --split-input-file --verify-diagnostics --kgs-lower > /dev/null
// RUN: rt3d-opt %s --split-input-file --verify-diagnostics --kgs-to-llvm > /dev/null
// RUN: rt3d-opt %s --split-input-file --verify-diagnostics --pooling-to-vector > /dev/null
// RUN: not rt3d-opt %s --split-input-file --sparse3d-tile 2>&1 | filecheck %s --check-prefix=EXIT
// EXIT-NOT: internal error
// EXIT: target-attributes.mlir:13:1: error: sparse3d.target: name must be a string, got 7 : i64
// EXIT-NOT: internal error

// expected-error @+1 {{sparse3d.target: name must be a string, got 7 : i64}}
module attributes {sparse3d.target = {cores = 2 : i64, l1_bytes = 32768 : i64, name = 7 : i64, vector_lanes = 8 : i64, vector_registers = 16 : i64}} {
  func.func @f() {
    return
  }
}

// -----

// expected-error @+1 {{sparse3d.target: name must be a string, got unit}}
module attributes {sparse3d.target = {cores = 2 : i64, l1_bytes = 32768 : i64, name = unit, vector_lanes = 8 : i64, vector_registers = 16 : i64}} {
  func.func @f() {
    return
  }
}

// -----

// expected-error @+1 {{sparse3d.target: vector_lanes must be an integer such as 8 : i64, got "8"}}
module attributes {sparse3d.target = {cores = 2 : i64, l1_bytes = 32768 : i64, name = "host-avx2", vector_lanes = "8", vector_registers = 16 : i64}} {
  func.func @f() {
    return
  }
}

// -----

// expected-error @+1 {{sparse3d.target: cores must be an integer such as 8 : i64, got true}}
module attributes {sparse3d.target = {cores = true, l1_bytes = 32768 : i64, name = "host-avx2", vector_lanes = 8 : i64, vector_registers = 16 : i64}} {
  func.func @f() {
    return
  }
}

// -----

// expected-error @+1 {{target 'host-avx2': cores must be from 1 to 65536, got 9223372036854775807}}
module attributes {sparse3d.target = {cores = 9223372036854775807 : i64, l1_bytes = 32768 : i64, name = "host-avx2", vector_lanes = 8 : i64, vector_registers = 16 : i64}} {
  func.func @f() {
    return
  }
}

// -----

// expected-error @+1 {{target 'host-avx2': vector_lanes must be a power of two from 1 to 64, got 3}}
module attributes {sparse3d.target = {cores = 2 : i64, l1_bytes = 32768 : i64, name = "host-avx2", vector_lanes = 3 : i64, vector_registers = 16 : i64}} {
  func.func @f() {
    return
  }
}

// -----

// expected-error @+1 {{sparse3d.target: l1_bytes must be an integer such as 8 : i64, got 1.000000e+00 : f32}}
module attributes {sparse3d.target = {cores = 2 : i64, l1_bytes = 1.0 : f32, name = "host-avx2", vector_lanes = 8 : i64, vector_registers = 16 : i64}} {
  func.func @f() {
    return
  }
}

// -----

// expected-error @+1 {{sparse3d.target: vector_registers must be an integer such as 8 : i64, got array<i64: 16>}}
module attributes {sparse3d.target = {cores = 2 : i64, l1_bytes = 32768 : i64, name = "host-avx2", vector_lanes = 8 : i64, vector_registers = array<i64: 16>}} {
  func.func @f() {
    return
  }
}

// -----

// expected-error @+1 {{sparse3d.target must be a dictionary attribute, got "host"}}
module attributes {sparse3d.target = "host"} {
  func.func @f() {
    return
  }
}

// -----

// expected-error @+1 {{sparse3d.target lacks vector_lanes, vector_registers, l1_bytes, cores: {name = "host"}}}
module attributes {sparse3d.target = {name = "host"}} {
  func.func @f() {
    return
  }
}

// -----

// A dense array of unsigned (or signed) integers has no Python class: still a wrong field, not an internal error.
// expected-error @+1 {{sparse3d.target: vector_registers cannot be array<ui8: 16>}}
module attributes {sparse3d.target = {cores = 2 : i64, l1_bytes = 32768 : i64, name = "host-avx2", vector_lanes = 8 : i64, vector_registers = array<ui8: 16>}} {
  func.func @f() {
    return
  }
}

// -----

// expected-error @+1 {{sparse3d.target must be a dictionary attribute, got array<si32: 1>}}
module attributes {sparse3d.target = array<si32: 1>} {
  func.func @f() {
    return
  }
}
