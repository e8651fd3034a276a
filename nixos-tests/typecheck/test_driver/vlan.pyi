from pathlib import Path

class VLan:
    nr: int
    socket_dir: Path
