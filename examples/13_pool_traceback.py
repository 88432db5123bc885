# A Pool worker raises: the parent re-raises it, and its traceback points at the worker's failing line.
import multiprocessing


def reciprocal(n):
    return 1 / (3 - n)  # n == 3 divides by zero


if __name__ == '__main__':
    with multiprocessing.Pool(processes=2) as pool:
        print(pool.map(reciprocal, range(5)))
