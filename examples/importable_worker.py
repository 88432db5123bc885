# The target function for 03_importable_target.py, in a module child processes can import.
import os


def report():
    print('worker running in pid', os.getpid())
