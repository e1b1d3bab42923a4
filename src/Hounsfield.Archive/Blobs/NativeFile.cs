using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Hounsfield.Archive.Blobs;

/// <summary>
/// The POSIX file calls .NET does not offer: flushing a folder, flushing a file's data without its times, starting the
/// write-back of a range, punching a hole, finding the data past a hole and renaming without replacing (Linux). Elsewhere
/// each falls back to what .NET can do.
/// </summary>
internal static class NativeFile
{
    private const int CloseOnExec = 0x80000; // O_CLOEXEC
    private const int PunchHoleKeepingSize = 0x01 | 0x02; // FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE
    private const int SeekData = 3;
    private const int SyncFileRangeWrite = 0x2; // SYNC_FILE_RANGE_WRITE
    private const int CurrentFolder = -100; // AT_FDCWD
    private const uint RenameNoReplace = 0x1; // RENAME_NOREPLACE
    private const int NoSuchFile = 2; // ENOENT
    private const int FileExists = 17; // EEXIST

    /// <summary>O_DIRECTORY: Arm Linux gives it the value x86 Linux gives O_DIRECT, which a folder cannot be opened with.</summary>
    private static int DirectoryFlag => IsArmFamily ? 0x4000 : 0x10000;

    private static bool IsArmFamily => RuntimeInformation.ProcessArchitecture is Architecture.Arm64 or Architecture.Arm;

    /// <summary>
    /// Makes a folder's entries durable (fsync of the folder): without it a file created or renamed a moment before a power
    /// loss can vanish from the folder. Windows has no folder flush; macOS and the BSDs differ in the flag values.
    /// </summary>
    public static void FlushFolder(string folder)
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        var descriptor = Open(folder, DirectoryFlag | CloseOnExec);
        if (descriptor < 0)
        {
            throw new IOException($"Could not open folder {folder} to flush it (errno {Marshal.GetLastPInvokeError()}).");
        }

        try
        {
            if (Fsync(descriptor) != 0)
            {
                throw new IOException($"Could not flush folder {folder} (errno {Marshal.GetLastPInvokeError()}).");
            }
        }
        finally
        {
            Close(descriptor);
        }
    }

    /// <summary>Flushes a file's data and what reading it back needs (its length), not its times: fdatasync on Linux, fsync elsewhere.</summary>
    public static void FlushData(SafeFileHandle handle)
    {
        if (!OperatingSystem.IsLinux())
        {
            RandomAccess.FlushToDisk(handle);
            return;
        }

        if (WithDescriptor(handle, Fdatasync) != 0)
        {
            throw new IOException($"Could not flush a blob segment to disk (errno {Marshal.GetLastPInvokeError()}).");
        }
    }

    /// <summary>Starts writing a written range to the device without waiting for it (a later flush finds less to do); nothing elsewhere.</summary>
    public static void StartWriteBack(SafeFileHandle handle, long offset, long length)
    {
        if (OperatingSystem.IsLinux())
        {
            WithDescriptor(handle, descriptor => SyncFileRange(descriptor, offset, length, SyncFileRangeWrite));
        }
    }

    /// <summary>
    /// Renames <paramref name="from"/> to <paramref name="to"/> in one step; false when <paramref name="from"/> is gone, an
    /// <see cref="IOException"/> when <paramref name="to"/> exists.
    /// </summary>
    public static bool RenameWithoutReplacing(string from, string to)
    {
        if (OperatingSystem.IsLinux())
        {
            if (RenameAt2(CurrentFolder, from, CurrentFolder, to, RenameNoReplace) == 0)
            {
                return true;
            }

            switch (Marshal.GetLastPInvokeError())
            {
                case NoSuchFile:
                    return false;
                case FileExists:
                    throw new IOException($"Could not rename {from} to {to}: the file exists.");
            }
        }

        try
        {
            File.Move(from, to, overwrite: false);
            return true;
        }
        catch (FileNotFoundException)
        {
            return false;
        }
    }

    /// <summary>Frees <paramref name="length"/> bytes at <paramref name="offset"/>: a hole where the file system has them, zeros written otherwise.</summary>
    public static void Discard(SafeFileHandle handle, long offset, long length)
    {
        if (OperatingSystem.IsLinux() && WithDescriptor(handle, descriptor => Fallocate(descriptor, PunchHoleKeepingSize, offset, length)) == 0)
        {
            return;
        }

        var end = Math.Min(offset + length, RandomAccess.GetLength(handle));
        var zeros = new byte[64 * 1024];
        for (var position = offset; position < end; position += zeros.Length)
        {
            RandomAccess.Write(handle, zeros.AsSpan(0, (int)Math.Min(zeros.Length, end - position)), position);
        }
    }

    /// <summary>Where data is found at or after <paramref name="offset"/>, skipping holes; -1 when only holes follow.</summary>
    public static long NextData(SafeFileHandle handle, long offset)
    {
        if (!OperatingSystem.IsLinux())
        {
            return offset < RandomAccess.GetLength(handle) ? offset : -1;
        }

        return WithDescriptor(handle, descriptor => Lseek(descriptor, offset, SeekData));
    }

    private static T WithDescriptor<T>(SafeFileHandle handle, Func<int, T> call)
    {
        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            return call((int)handle.DangerousGetHandle());
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    [DllImport("libc", EntryPoint = "open", SetLastError = true)]
    private static extern int Open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

    [DllImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static extern int Fsync(int descriptor);

    [DllImport("libc", EntryPoint = "fdatasync", SetLastError = true)]
    private static extern int Fdatasync(int descriptor);

    [DllImport("libc", EntryPoint = "fallocate", SetLastError = true)]
    private static extern int Fallocate(int descriptor, int mode, long offset, long length);

    [DllImport("libc", EntryPoint = "lseek", SetLastError = true)]
    private static extern long Lseek(int descriptor, long offset, int whence);

    [DllImport("libc", EntryPoint = "sync_file_range", SetLastError = true)]
    private static extern int SyncFileRange(int descriptor, long offset, long length, int flags);

    [DllImport("libc", EntryPoint = "renameat2", SetLastError = true)]
    private static extern int RenameAt2(int fromFolder, [MarshalAs(UnmanagedType.LPUTF8Str)] string from, int toFolder, [MarshalAs(UnmanagedType.LPUTF8Str)] string to, uint flags);

    [DllImport("libc", EntryPoint = "close")]
    private static extern int Close(int descriptor);
}
