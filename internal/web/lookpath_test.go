package web

import "os/exec"

var execLookPath = exec.LookPath
