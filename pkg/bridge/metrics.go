package bridge

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the core's Prometheus instruments.
type Metrics struct {
	Owned        prometheus.Gauge
	Polls        *prometheus.CounterVec // outcome: events, empty, error, gone, terminated
	DeskErrors   *prometheus.CounterVec // op
	Relayed      *prometheus.CounterVec // sink
	RelayLatency *prometheus.HistogramVec
	Sent         prometheus.Counter
}

// NewMetrics creates the instruments and registers them with reg (nil: not
// registered, for tests).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Owned: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "bridge_chats_owned", Help: "Customers this instance drives (polls or delivers for).",
		}),
		Polls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bridge_desk_polls_total", Help: "Desk receive calls by outcome.",
		}, []string{"outcome"}),
		DeskErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bridge_desk_errors_total", Help: "Desk call failures by operation.",
		}, []string{"op"}),
		Relayed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bridge_sink_events_total", Help: "Events delivered by each sink.",
		}, []string{"sink"}),
		RelayLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "bridge_relay_latency_seconds",
			Help:    "From an event entering the log to its delivery by a sink.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"sink"}),
		Sent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bridge_customer_messages_sent_total", Help: "Customer messages delivered to the desk.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.Owned, m.Polls, m.DeskErrors, m.Relayed, m.RelayLatency, m.Sent)
	}
	return m
}
