// Package sensorstest gives the sensors driver fake GPIO pins (periph's
// gpiotest) for tests and the demo. The pins are handed to sensors.Open
// through Opts; nothing is registered in periph's process-wide registry, so
// fakes never mix with a machine's real pins and tests may run in parallel.
package sensorstest

import (
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"govkiosk/drivers/sensors"
)

// Pins returns a fake door switch, Low (closed), and a fake LED, Low (off),
// with the given names. door.Out(gpio.High) opens the door and
// door.Out(gpio.Low) closes it; led.Read() shows the LED.
func Pins(doorName, ledName string) (door, led *gpiotest.Pin) {
	door = &gpiotest.Pin{N: doorName, Num: -1, Fn: "In", L: gpio.Low}
	led = &gpiotest.Pin{N: ledName, Num: -1, Fn: "Out", L: gpio.Low}
	return door, led
}

// Opts returns sensors options that use door and led.
func Opts(door, led *gpiotest.Pin) *sensors.Opts {
	return &sensors.Opts{DoorPin: door.N, LEDPin: led.N, Door: door, LED: led}
}
