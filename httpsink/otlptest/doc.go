// Package otlptest checks httpsink's OTLP/HTTP JSON payload against the
// OpenTelemetry Collector's own OTLP receiver, started in-process on
// loopback. It is a separate module so that the collector's dependencies
// stay out of the main module; it holds only tests.
package otlptest
