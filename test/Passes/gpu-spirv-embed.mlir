// RUN: rt3d-opt %s --split-input-file --verify-diagnostics --gpu-spirv-embed | filecheck %s

// The spirv.module that convert-gpu-to-spirv put next to gpu.module @k moves into it: none is
// left before or after it (a copy would leave the original in front).
// CHECK-LABEL: module attributes {gpu.container_module}
// CHECK-NOT:   spirv.module
// CHECK:       gpu.module @k {
// CHECK-NEXT:    spirv.module @__spv__k Logical GLSL450 {
// CHECK:         gpu.func @k() kernel
// CHECK-NOT:   spirv.module
module attributes {gpu.container_module} {
  spirv.module @__spv__k Logical GLSL450 {
  }
  gpu.module @k {
    gpu.func @k() kernel {
      gpu.return
    }
  }
}

// -----

module attributes {gpu.container_module} {
  // expected-error @+1 {{spirv.module @__spv__lost has no gpu.module @lost to go into}}
  spirv.module @__spv__lost Logical GLSL450 {
  }
}

// -----

module attributes {gpu.container_module} {
  // expected-error @+1 {{spirv.module without a name has no gpu.module to go into (convert-gpu-to-spirv names it @__spv__NAME after gpu.module @NAME)}}
  spirv.module Logical GLSL450 {
  }
  gpu.module @k {
    gpu.func @k() kernel {
      gpu.return
    }
  }
}
