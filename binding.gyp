# binding.gyp: the CPU addon, built by node-gyp (npm install's fallback when no prebuild fits).
# Its sources are every native/**/*.cc but the device glue, listed by native/sources.mjs, which
# CMakeLists.txt runs too: a new source file needs no edit here or there, and the two builds
# compile the same files. The defines and compiler flags are written in both files and must be
# changed in both. The instruction-set files (native/cpu/isa_*.cc) carry their own target pragmas,
# so no -march flag is set here: the binary runs on any x86-64 and picks AVX2/AVX-512 at run
# time. (-Wno-maybe-uninitialized: GCC 12 reports its own _mm512_undefined_* intrinsics as
# (maybe-)uninitialized.)
{
  "targets": [
    {
      "target_name": "steprl",
      "sources": ["<!@(node native/sources.mjs cpu)"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions", "-O2"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-O2"],
      "cflags": ["-O3", "-fno-math-errno"],
      "cflags_cc": ["-std=c++17", "-O3", "-fexceptions", "-frtti", "-fno-math-errno"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "GCC_ENABLE_CPP_RTTI": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "MACOSX_DEPLOYMENT_TARGET": "11.0",
        "OTHER_CFLAGS": ["-O3", "-fno-math-errno"]
      },
      "msvs_settings": {
        "VCCLCompilerTool": { "ExceptionHandling": 1, "RuntimeTypeInfo": "true", "AdditionalOptions": ["/std:c++17", "/O2"] }
      },
      "conditions": [
        ["OS=='linux'", {
          "libraries": ["-lpthread"],
          "cflags_cc": ["-Wno-maybe-uninitialized", "-Wno-uninitialized"]
        }]
      ]
    }
  ]
}
