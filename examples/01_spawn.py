# Start four worker processes from one function and wait for all of them.
import multiprocessing


def greet():
    print('hello from', multiprocessing.current_process().name)


if __name__ == '__main__':
    workers = [multiprocessing.Process(target=greet) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
