# The spawn start method runs each child in a fresh interpreter that re-imports this file (hence the __main__ guard).
import multiprocessing
import os


def where():
    print('child pid', os.getpid(), 'started by', multiprocessing.get_start_method())


if __name__ == '__main__':
    context = multiprocessing.get_context('spawn')
    children = [context.Process(target=where) for _ in range(2)]
    for child in children:
        child.start()
    for child in children:
        child.join()
