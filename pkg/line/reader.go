package line

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/line/line-bot-sdk-go/v8/linebot/messaging_api"

	"github.com/line-sf-bridge/bridge/pkg/bridge"
)

// ReadSinkName is the cursor name of the ReadMarker; it never changes.
const ReadSinkName = "line_read"

// ReadMarker is the [bridge.Sink] that marks a customer's messages as read
// in LINE (POST /v2/bot/chat/markAsRead) once the core has handed them to
// the agent. It only matters when the channel has Chat turned on in the LINE
// Official Account Manager; otherwise LINE marks messages read by itself.
//
// Marking by token marks that message and every earlier one, so a delivery
// marks only its last token. It is best effort: 429, 5xx and network errors
// are retried by the core, every other error drops the delivery.
type ReadMarker struct {
	cfg Config
	c   *client
	log *slog.Logger
}

var _ bridge.EventIdempotent = (*ReadMarker)(nil)

// NewReadMarker returns a ReadMarker. cfg needs ChannelToken; log may be nil.
func NewReadMarker(cfg Config, log *slog.Logger) (*ReadMarker, error) {
	cfg = cfg.WithDefaults()
	if cfg.ChannelToken == "" {
		return nil, errors.New("line: read marker: channel access token missing")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &ReadMarker{cfg: cfg, c: newClient(cfg, nil), log: orDiscard(log)}, nil
}

// Name implements bridge.Sink.
func (m *ReadMarker) Name() string { return ReadSinkName }

// IdempotentByEventID implements bridge.EventIdempotent: marking a message
// read twice is harmless, so retries need no saved plan.
func (m *ReadMarker) IdempotentByEventID() {}

// Accepts implements bridge.Sink: customer messages (and notes) that carry
// a LINE markAsReadToken.
func (m *ReadMarker) Accepts(ev bridge.Event) bool {
	return (ev.Kind == bridge.KindCustomerMessage || ev.Kind == bridge.KindCustomerNote) && ev.ReadToken != ""
}

// Batch implements bridge.Sink: all of them, as the last token marks the rest.
func (m *ReadMarker) Batch(evs []bridge.Event) int { return len(evs) }

// Deliver implements bridge.Sink.
func (m *ReadMarker) Deliver(ctx context.Context, d bridge.Delivery) error {
	token := ""
	for _, ev := range d.Events {
		if ev.ReadToken != "" {
			token = ev.ReadToken
		}
	}
	if token == "" {
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, m.cfg.HTTPTimeout)
	defer cancel()
	api, err := m.c.messaging(cctx)
	if err != nil {
		return fmt.Errorf("line: markAsRead: %w: %w", bridge.ErrPermanent, err)
	}
	res, _, err := api.MarkMessagesAsReadByTokenWithHttpInfo(&messaging_api.MarkMessagesAsReadByTokenRequest{MarkAsReadToken: token})
	if err := callError("markAsRead", res, err); err != nil {
		return err
	}
	m.log.DebugContext(ctx, "line messages marked as read", "customer", d.Customer)
	return nil
}
