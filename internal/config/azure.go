package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// CheckStorageConnectionString checks an Azure Storage connection string
// as far as it can be checked offline, so that `config check` catches what
// the SDK would only refuse at `run`: an account key that is not base64
// (a copy that lost its trailing "==" or gained a space), a key without
// an account name. Errors never quote the string: it holds a key.
func CheckStorageConnectionString(cs string) error {
	var name, key, sas string
	dev := false
	for _, part := range strings.Split(cs, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			if strings.TrimSpace(part) != "" {
				return errors.New("not a connection string: every part is KEY=VALUE, separated by ';'")
			}
			continue
		}
		switch strings.ToLower(k) {
		case "accountname":
			name = v
		case "accountkey":
			key = v
		case "sharedaccesssignature":
			sas = v
		case "usedevelopmentstorage":
			dev = strings.EqualFold(v, "true")
		}
	}
	switch {
	case dev:
		return nil
	case key != "":
		if name == "" {
			return errors.New("AccountName: missing (the connection string has an AccountKey)")
		}
		if _, err := base64.StdEncoding.DecodeString(key); err != nil {
			var at base64.CorruptInputError
			if errors.As(err, &at) {
				return fmt.Errorf("AccountKey: not valid base64 (at character %d of %d): copy the key again from the storage account's Access keys", int64(at)+1, len(key))
			}
			return fmt.Errorf("AccountKey: not valid base64: %v", err)
		}
	case sas == "":
		return errors.New("no AccountKey nor SharedAccessSignature (copy the whole connection string from the storage account's Access keys)")
	}
	return nil
}
