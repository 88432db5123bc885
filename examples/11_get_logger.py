# get_logger() returns the 'multiprocessing' logger to configure directly; at INFO the DEBUG lines disappear.
import logging
import multiprocessing


def job():
    print('job running', flush=True)


if __name__ == '__main__':
    multiprocessing.log_to_stderr()
    logger = multiprocessing.get_logger()
    logger.setLevel(logging.INFO)
    process = multiprocessing.Process(target=job)
    process.start()
    process.join()
