// The aggregator's processing of accepted pushes: conversion to points (naming rules,
// libs/conversion), encoding as line protocol, and hand-over to every backend's Uploader.
#ifndef PUSHGATE_LIBS_PIPELINE_PIPELINE_H_
#define PUSHGATE_LIBS_PIPELINE_PIPELINE_H_

#include <vector>

#include "libs/conversion/conversion.h"
#include "libs/ingest_server/ingest_server.h"
#include "libs/self_metrics/self_metrics.h"
#include "libs/uploader/uploader.h"

namespace pushgate {

class PushPipeline : public PushProcessor {
 public:
  // `uploaders` and `registry` must outlive the pipeline.
  PushPipeline(ConversionOptions options, std::vector<Uploader*> uploaders,
               MetricsRegistry* registry);

  // Converts the push and queues its points on every uploader, then acknowledges it.
  // A DELETE has no points; it is acknowledged as accepted.
  void Process(pushgate::v1::PushRequest request, Done done) override;

 private:
  const ConversionOptions options_;
  const std::vector<Uploader*> uploaders_;
  MetricFamilyValues& pushes_;
  MetricFamilyValues& points_;
  MetricFamilyValues& dropped_non_finite_;
};

}  // namespace pushgate

#endif  // PUSHGATE_LIBS_PIPELINE_PIPELINE_H_
