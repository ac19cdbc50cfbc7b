package events

import "errors"

// Errors of the package.
var (
	// ErrPrivateAddress means an endpoint resolved to a loopback, private,
	// link-local or otherwise internal address and the endpoint does not set
	// AllowPrivate. The delivery is not retried.
	ErrPrivateAddress = errors.New("events: refusing to connect to a private address")
	// ErrUnknownEndpoint means no configured endpoint has that name.
	ErrUnknownEndpoint = errors.New("events: unknown endpoint")
	// ErrNotFound means no delivery has that id (or it expired).
	ErrNotFound = errors.New("events: delivery not found")
	// ErrBusy means the delivery is still queued or being attempted.
	ErrBusy = errors.New("events: delivery is still queued")
	// ErrEndpointDisabled means the endpoint is disabled (after a 410, or
	// switched off in the configuration).
	ErrEndpointDisabled = errors.New("events: endpoint is disabled")
	// ErrEventExpired means the event's stored body expired (Config.Retention).
	ErrEventExpired = errors.New("events: event expired")
)
