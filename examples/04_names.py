# Give processes names; the one left unnamed gets the default Process-N, N counting every process created so far.
import multiprocessing
import time


def announce(seconds):
    name = multiprocessing.current_process().name
    print(name, 'starting')
    time.sleep(seconds)
    print(name, 'done')


if __name__ == '__main__':
    processes = [
        multiprocessing.Process(target=announce, args=(0.5,), name='indexer'),
        multiprocessing.Process(target=announce, args=(0.5,), name='uploader'),
        multiprocessing.Process(target=announce, args=(0.5,)),  # Process-3
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
