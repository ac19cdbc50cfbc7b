// Package line is the LINE channel of the bridge, built on line-bot-sdk-go v8.
//
// It has three parts:
//
//   - [Pusher], a [bridge.Sink] named "line_push", pushes what the agent says
//     and chat notices (queued, agent joined, ended …) to the LINE user, and
//     turns agent typing into LINE's loading animation.
//   - [ReadMarker], a [bridge.Sink] named "line_read", marks a customer's
//     messages as read (markAsRead by token) once the agent has them.
//   - [Webhook], an http.Handler for POST /line/webhook, makes the bridge the
//     channel's webhook: it starts a chat on a handover keyword or postback,
//     relays the user's messages while a chat is open, and forwards every
//     other event, re-signed, to the bot behind it.
//
// Notice texts come from the templates in configs/messages (see [Notices]).
// No SDK or wire type crosses into pkg/bridge: the converters in convert.go
// are the only crossing.
package line
