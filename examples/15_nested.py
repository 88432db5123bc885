# A child starts children of its own: they are named after it (Process-1:1, Process-1:2) and nest under it.
import multiprocessing


def leaf():
    print('leaf', multiprocessing.current_process().name)


def branch():
    leaves = [multiprocessing.Process(target=leaf) for _ in range(2)]
    for child in leaves:
        child.start()
    for child in leaves:
        child.join()
    print('branch', multiprocessing.current_process().name, 'done')


if __name__ == '__main__':
    root = multiprocessing.Process(target=branch)
    root.start()
    root.join()
