# A file of the test workspace: in Restricted Mode, Run Active File must not run it.
print('hello from the workspace')
