// The imagen CPU engine as a serving backend: ONNX models (backend
// "onnxruntime" / platform "onnxruntime_onnx", so Triton repository entries
// written for ONNX Runtime load unchanged, or backend "imagen_onnx") and ncnn
// models (backend "imagen_ncnn", model.param + model.bin). Auto-completes
// inputs/outputs from the model file. Instances of one model version share
// one loaded engine Model (it is thread-safe). Thread-safe.
#pragma once

#include "serving/backend.h"

namespace imagen::serving {

Backend* EngineBackend();
bool IsEngineBackend(const inference::ModelConfig& config);

}  // namespace imagen::serving
