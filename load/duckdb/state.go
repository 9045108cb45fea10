package duckdb

import (
	"errors"
	"os"

	"closedloop/load"
)

// OpenState opens the warehouse file at path read-only for an incremental run's state
// (load.StateReader): the live file, before the run builds its next version. It
// returns nil and no error when there is no warehouse yet.
func OpenState(path string) (*load.SQLState, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	db, err := OpenReadOnly(path)
	if err != nil {
		return nil, err
	}
	return &load.SQLState{DB: db, Dialect: "duckdb"}, nil
}
