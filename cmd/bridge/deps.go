package main

import (
	_ "github.com/alicebob/miniredis/v2"
	_ "github.com/labstack/echo/v4"
	_ "github.com/line/line-bot-sdk-go/v8/linebot/messaging_api"
	_ "github.com/line/line-bot-sdk-go/v8/linebot/webhook"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/redis/go-redis/v9"
	_ "github.com/spf13/viper"
	_ "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

func main() {}
