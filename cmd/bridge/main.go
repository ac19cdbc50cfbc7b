// Command bridge runs the LINE ⇄ Salesforce agent bridge.
//
//	bridge            serve (configuration from the environment and configs/config.yaml)
//	bridge --demo     everything in one process: embedded store, embedded Live Agent simulator
//	bridge migrate    no-op, kept so a Procfile "release: python manage.py migrate" port keeps working
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bridge:", err)
		os.Exit(1)
	}
}

// version is set at build time (-ldflags "-X main.version=…").
var version = "dev"

func usage(w io.Writer) {
	fmt.Fprint(w, `Usage: bridge [--demo] [--config FILE] [--addr ADDR]
       bridge migrate    (no-op; the bridge keeps no schema)
       bridge version

Environment variables configure everything; see configs/config.example.yaml.
`)
}
