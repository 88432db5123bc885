# Use a target defined in another module (importable_worker.py), so children never re-run this script's main code.
import multiprocessing

import importable_worker

if __name__ == '__main__':
    workers = [multiprocessing.Process(target=importable_worker.report) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
