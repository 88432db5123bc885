# Pool.map: a pool of three workers squares ten numbers; the results come back in order.
# ProcScope shows the workers (`ForkPoolWorker-N`, daemons, `pool-worker`) under the program, then their exits.
import multiprocessing
import time


def square(number):
    time.sleep(0.1)
    return number * number


if __name__ == '__main__':
    with multiprocessing.Pool(processes=3) as pool:
        print('squares:', pool.map(square, range(10)), flush=True)
