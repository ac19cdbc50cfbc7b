package main

import (
	"fmt"
	"io"
)

func printDemo(w io.Writer, base string) {
	fmt.Fprintf(w, `
  LINE ⇄ Salesforce bridge — demo mode (embedded store, embedded Live Agent simulator)

  Bridge API          %[1]s/init  /send  /messages  /close
  Simulator (agent)   %[1]s/sim/control/chats
  Health, metrics     %[1]s/healthz  %[1]s/metrics

  Try:  curl -s -XPOST %[1]s/init -d '{"line_id":"U1","display_name":"Taro"}'
        curl -s %[1]s/sim/control/chats
        curl -s -XPOST %[1]s/sim/control/chats/<id>/accept
        curl -s -XPOST %[1]s/messages -d '{"line_id":"U1"}'

`, base)
}
