"""Hold N idle keep-alive connections to 127.0.0.1:PORT: each sends one
request and reads its answer, then stays open. Prints `ready` when all are
open and holds them until stdin closes.

    python3 idle-clients.py PORT N
"""
import resource
import socket
import sys


def main(port, count):
    limit = count + 256
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
    held = []
    for _ in range(count):
        conn = socket.create_connection(("127.0.0.1", port))
        conn.sendall(b"GET / HTTP/1.1\r\nHost: idle\r\n\r\n")
        held.append(conn)
    for conn in held:
        if not conn.recv(65536).startswith(b"HTTP/1.1 200"):
            sys.exit("a connection was not answered 200")
    print("ready", flush=True)
    sys.stdin.read()


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
