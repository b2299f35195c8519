"""Holds the write lock of a SQLite database until killed: another process that cannot write.

    python3 hold_write_lock.py DATABASE

Prints `locked` once the lock is held (a `BEGIN EXCLUSIVE` transaction), then sleeps.
"""
import sqlite3
import sys
import time

connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(600)
