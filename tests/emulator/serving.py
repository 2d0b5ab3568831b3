"""What the emulators share about running a server process."""

import os
import signal


def write_port_file(path, port):
    """Writes the port atomically, so a reader never sees half a number."""
    tmp = f'{path}.tmp.{os.getpid()}'
    with open(tmp, 'w') as f:
        f.write(f'{port}\n')
    os.replace(tmp, path)


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def serve_until_stopped(server, cleanup=None):
    """Serves until Ctrl-C or SIGTERM (like Ctrl-C, so cleanup runs), then closes."""
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        server.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
    finally:
        if cleanup:
            cleanup()
        server.server_close()
